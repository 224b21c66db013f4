"""Tang et al.'s augmentation: masking, POS-guided replacement and n-gram sampling, seeded."""

import random

import pytest

from textseq.text.augment import Augmentation, PosLexicon, augment_texts, augment_words

TEXTS = ["a gripping , beautifully acted film", "the plot is dull and the jokes fall flat"]
TAGS = [
    ["DT", "JJ", ",", "RB", "VBN", "NN"],
    ["DT", "NN", "VBZ", "JJ", "CC", "DT", "NNS", "VBP", "JJ"],
]


def test_the_same_seed_gives_the_same_copies_and_another_seed_others():
    settings = Augmentation()
    first = augment_texts(TEXTS, copies=5, settings=settings, seed=3, tags=TAGS)
    assert first == augment_texts(TEXTS, copies=5, settings=settings, seed=3, tags=TAGS)
    assert first != augment_texts(TEXTS, copies=5, settings=settings, seed=4, tags=TAGS)


def test_copies_are_distinct_new_texts_at_most_copies_per_text():
    copies = augment_texts(TEXTS, copies=4, settings=Augmentation(), seed=0, tags=TAGS)
    assert len(copies) == len(set(copies)) <= 8
    assert not set(copies) & set(TEXTS)
    assert augment_texts(TEXTS, copies=0, settings=Augmentation(), seed=0) == []


def test_masking_every_word_and_no_ngrams_masks_every_word():
    settings = Augmentation(mask_prob=1.0, pos_prob=0.0, ngram_prob=0.0, mask="[MASK]")
    words = TEXTS[0].split()
    copy = augment_words(words, None, settings=settings, lexicon=None, rng=random.Random(0))
    assert copy == ["[MASK]"] * len(words)


def test_ngram_sampling_keeps_a_contiguous_run_of_at_most_max_ngram_words():
    settings = Augmentation(mask_prob=0.0, pos_prob=0.0, ngram_prob=1.0, max_ngram=3)
    words = TEXTS[1].split()
    rng = random.Random(1)
    for _ in range(50):
        copy = augment_words(words, None, settings=settings, lexicon=None, rng=rng)
        assert 1 <= len(copy) <= 3
        starts = [i for i in range(len(words)) if words[i : i + len(copy)] == copy]
        assert starts, copy


def test_pos_guided_replacement_draws_training_words_of_the_same_tag():
    lexicon = PosLexicon([(t.split(), tags) for t, tags in zip(TEXTS, TAGS, strict=True)])
    tag_of = {
        w: t
        for text, tags in zip(TEXTS, TAGS, strict=True)
        for w, t in zip(text.split(), tags, strict=True)
    }
    settings = Augmentation(mask_prob=0.0, pos_prob=1.0, ngram_prob=0.0)
    rng = random.Random(2)
    replaced = 0
    for _ in range(30):
        words = TEXTS[1].split()
        copy = augment_words(words, TAGS[1], settings=settings, lexicon=lexicon, rng=rng)
        assert [tag_of[w] for w in copy] == TAGS[1]  # every word keeps its part of speech
        replaced += sum(a != b for a, b in zip(copy, words, strict=True))
    assert replaced > 0  # JJ has three words, DT two: some draws differ


def test_without_tags_pos_replacement_keeps_the_words():
    settings = Augmentation(mask_prob=0.0, pos_prob=1.0, ngram_prob=0.0)
    words = TEXTS[0].split()
    assert (
        augment_words(words, None, settings=settings, lexicon=None, rng=random.Random(0)) == words
    )


def test_bad_settings_are_refused_with_their_values():
    with pytest.raises(ValueError, match=r"mask_prob \+ pos_prob \(0.6 \+ 0.6\)"):
        Augmentation(mask_prob=0.6, pos_prob=0.6)
    with pytest.raises(ValueError, match="2 texts but 1 tag sequences"):
        augment_texts(TEXTS, copies=1, settings=Augmentation(), seed=0, tags=TAGS[:1])
