"""The tagger: character encoders and the whole model ignore padding, every encoder and output
layer runs, and a tiny tagger learns a toy task that needs context and characters."""

import random

import pytest
import torch

from textseq.models.tagger import CASINGS, build_sequence_tagger, casing_of
from textseq.modules.char_encoders import CharBiLSTM, CharCNN
from textseq.tasks.tag.conll import TaggedSentence
from textseq.tasks.tag.data import TagCollator, TagEncoder
from textseq.text.tags import allowed_transitions, is_valid


@pytest.mark.parametrize("encoder_class", [CharCNN, CharBiLSTM])
def test_char_encoders_ignore_padding(encoder_class):
    torch.manual_seed(0)
    encoder = encoder_class(num_chars=10).eval()
    word = torch.tensor([[[3, 4, 5]]])  # (1, 1, 3)
    padded = torch.tensor([[[3, 4, 5, 0, 0], [0, 0, 0, 0, 0]]])  # longer words, a padded word
    alone = encoder(word)[0, 0]
    together = encoder(padded)
    assert torch.allclose(alone, together[0, 0], atol=1e-6)
    assert torch.equal(together[0, 1], torch.zeros_like(together[0, 1]))


def test_casing_categories():
    words = ["1996", "12.5", "the", "EU", "Ekeus", "a1b", "-"]
    assert [CASINGS[casing_of(w)] for w in words] == [
        "numeric",
        "mostly_numeric",
        "lower",
        "upper",
        "initial_upper",
        "contains_digit",
        "other",
    ]


def toy_sentences(count, seed):
    """Capitalised words are PER when 'mr' comes before them, else LOC; everything else O.
    Names are unseen at test time (new random strings), so characters and context decide."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(count):
        tokens, tags = [], []
        for _ in range(rng.randint(2, 6)):
            if rng.random() < 0.4:
                name = rng.choice("BCDFGKLMPRST") + "".join(
                    rng.choice("aeioulnrst") for _ in range(rng.randint(2, 5))
                )
                if rng.random() < 0.5:
                    tokens += ["mr", name]
                    tags += ["O", "B-PER"]
                else:
                    tokens.append(name)
                    tags.append("B-LOC")
            else:
                tokens.append(rng.choice(["the", "went", "to", "and", "saw", "in"]))
                tags.append("O")
        sentences.append(TaggedSentence(tokens, tags))
    return sentences


def build(tag_encoder, **options):
    return build_sequence_tagger(
        vocab_size=len(tag_encoder.words),
        num_chars=len(tag_encoder.chars),
        num_tags=len(tag_encoder.tags),
        pad_index=0,
        unk_index=1,
        embedding_dim=16,
        char_dim=8,
        char_hidden_size=8,
        casing_dim=4,
        hidden_size=16,
        dropout=0.0,
        embedding_dropout=0.0,
        allowed=allowed_transitions(tag_encoder.tags.itos, "iobes"),
        **options,
    )


def batch_of(encoder, sentences, with_tags=True):
    dataset = encoder.dataset(sentences, with_tags=with_tags)
    return TagCollator()([dataset[i] for i in range(len(dataset))])


@pytest.mark.parametrize(
    "options",
    [
        {"output": "crf", "chars": "cnn"},
        {"output": "softmax", "chars": "lstm"},
        {"output": "crf", "chars": "none", "encoder": "transformer", "num_heads": 2},
        {"output": "crf", "chars": "cnn", "cell": "gru", "num_layers": 2},
    ],
)
def test_padding_never_changes_a_sentences_emissions(options):
    sentences = toy_sentences(6, seed=1)
    encoder = TagEncoder.fit(sentences, lowercase=True, scheme="iobes")
    torch.manual_seed(0)
    model = build(encoder, **options).eval()
    batch = batch_of(encoder, sentences)
    together = model(batch.word_ids, batch.lengths, batch.char_ids, batch.casing_ids)
    for index, sentence in enumerate(sentences):
        single = batch_of(encoder, [sentence])
        alone = model(single.word_ids, single.lengths, single.char_ids, single.casing_ids)
        n = len(sentence)
        assert torch.allclose(alone[0, :n], together[index, :n], atol=1e-5)


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, above all on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_tiny_tagger_learns_a_toy_task(one_thread):
    torch.manual_seed(0)
    train, test = toy_sentences(120, seed=2), toy_sentences(60, seed=3)
    encoder = TagEncoder.fit(train, lowercase=True, scheme="iobes")
    model = build(encoder, output="crf", chars="cnn")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    dataset = encoder.dataset(train)
    collate = TagCollator()
    for _ in range(3):
        order = list(range(len(dataset)))
        random.Random(0).shuffle(order)
        for start in range(0, len(order), 20):
            batch = collate([dataset[i] for i in order[start : start + 20]])
            emissions = model(batch.word_ids, batch.lengths, batch.char_ids, batch.casing_ids)
            loss = model.output.loss(emissions, batch.tags, batch.mask)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    batch = batch_of(encoder, test)
    with torch.no_grad():
        emissions = model(batch.word_ids, batch.lengths, batch.char_ids, batch.casing_ids)
        paths = model.output.decode(emissions, batch.mask)
    correct = total = 0
    for index, sentence in enumerate(test):
        predicted = [encoder.tags.itos[i] for i in paths[index, : len(sentence)].tolist()]
        assert is_valid(predicted, "iobes")
        gold = [encoder.tags.itos[i] for i in encoder.tag_ids(sentence)]
        correct += sum(p == g for p, g in zip(predicted, gold, strict=True))
        total += len(sentence)
    print(f"toy token accuracy {correct / total:.3f}")
    assert correct / total > 0.97


def test_encoder_vocabularies_and_unknown_tags():
    sentences = [TaggedSentence(["Peter", "ran"], ["B-PER", "O"], source="a.conll", line=3)]
    encoder = TagEncoder.fit(
        sentences, lowercase=True, scheme="iobes", extra_words=["berlin", "peter"]
    )
    assert encoder.tags.itos == ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    assert encoder.word_ids(["PETER", "Berlin", "xyz"]) == [
        encoder.words.stoi["peter"],
        encoder.words.stoi["berlin"],
        encoder.words.unk_index,
    ]
    assert encoder.char_ids(["Pe"]) == [[encoder.chars.stoi["P"], encoder.chars.stoi["e"]]]
    bad = TaggedSentence(["Paris"], ["B-LOC"], source="b.conll", line=7)
    with pytest.raises(Exception, match=r"b.conll, line 7: tag 'S-LOC' does not occur"):
        encoder.tag_ids(bad)
