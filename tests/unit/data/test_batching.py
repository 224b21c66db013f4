"""Batching: bucketed sampling that covers every example once, is reproducible from
(seed, epoch) and splits evenly across replicas; padding, lengths and masks."""

import random

import pytest
import torch

from textseq.data.batching import BucketBatchSampler, Collator, EncodedDataset, TextBatch
from textseq.data.datamodule import TextDataModule
from textseq.tasks import load_config


def random_lengths(n: int = 1000, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(1, 200) for _ in range(n)]


LENGTHS = random_lengths()


def batches_of(sampler) -> list[list[int]]:
    return [list(batch) for batch in sampler]


def padding(batches: list[list[int]], lengths: list[int]) -> int:
    """Pad positions needed to pad each batch to its longest member."""
    return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)


# --- one replica ---------------------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("bucket", [True, False])
@pytest.mark.parametrize(("n", "batch_size"), [(1000, 32), (1000, 1), (7, 3), (1, 4), (0, 4)])
def test_every_index_exactly_once_and_len_matches(shuffle, bucket, n, batch_size):
    lengths = random_lengths(n)
    sampler = BucketBatchSampler(
        lengths, batch_size=batch_size, shuffle=shuffle, bucket=bucket, pool_factor=4
    )
    batches = batches_of(sampler)
    assert sorted(i for batch in batches for i in batch) == list(range(n))
    assert len(sampler) == len(batches)
    assert all(1 <= len(batch) <= batch_size for batch in batches)
    assert sum(len(batch) < batch_size for batch in batches) <= 1  # only one short batch


def test_bucketed_batches_need_far_less_padding_than_random_batches():
    bucketed = batches_of(BucketBatchSampler(LENGTHS, batch_size=32, seed=3))
    unbucketed = batches_of(BucketBatchSampler(LENGTHS, batch_size=32, seed=3, bucket=False))
    assert padding(bucketed, LENGTHS) * 5 < padding(unbucketed, LENGTHS)


def test_batches_within_a_pool_are_length_sorted_runs():
    """Each batch spans a narrow length range: within a pool of 50 batches, sorted."""
    batches = batches_of(BucketBatchSampler(LENGTHS, batch_size=10, pool_factor=50, seed=0))
    spans = [max(LENGTHS[i] for i in b) - min(LENGTHS[i] for i in b) for b in batches]
    assert sum(spans) / len(spans) < 20  # random batches of 10 span about 160


def test_order_depends_only_on_seed_and_epoch():
    def run(seed, epoch, noise):
        random.seed(noise)  # the global RNG must not matter
        torch.manual_seed(noise)
        sampler = BucketBatchSampler(LENGTHS, batch_size=16, seed=seed)
        sampler.set_epoch(epoch)
        return batches_of(sampler)

    assert run(1, 0, noise=0) == run(1, 0, noise=99)
    assert run(1, 3, noise=0) == run(1, 3, noise=5)
    assert run(1, 0, noise=0) != run(2, 0, noise=0)


def test_iterating_twice_in_the_same_epoch_repeats_the_order():
    sampler = BucketBatchSampler(LENGTHS, batch_size=16, seed=4)
    assert batches_of(sampler) == batches_of(sampler)


def test_set_epoch_changes_the_order_but_not_the_coverage():
    sampler = BucketBatchSampler(LENGTHS, batch_size=16, seed=4)
    epoch0 = batches_of(sampler)
    sampler.set_epoch(1)
    epoch1 = batches_of(sampler)
    assert epoch0 != epoch1
    assert sorted(map(sorted, epoch0)) != sorted(map(sorted, epoch1))  # new groupings too
    assert sorted(i for b in epoch1 for i in b) == list(range(len(LENGTHS)))
    sampler.set_epoch(0)
    assert batches_of(sampler) == epoch0


def test_without_shuffle_batches_come_in_length_order():
    sampler = BucketBatchSampler(LENGTHS, batch_size=32, shuffle=False)
    flat = [i for batch in batches_of(sampler) for i in batch]
    assert [LENGTHS[i] for i in flat] == sorted(LENGTHS)
    sampler.set_epoch(5)
    assert [i for batch in batches_of(sampler) for i in batch] == flat  # epoch is irrelevant


def test_without_shuffle_or_bucket_batches_are_in_index_order():
    sampler = BucketBatchSampler([3, 1, 2, 5, 4], batch_size=2, shuffle=False, bucket=False)
    assert batches_of(sampler) == [[0, 1], [2, 3], [4]]


def test_without_shuffle_ties_keep_index_order():
    sampler = BucketBatchSampler([2, 1, 2, 1, 2], batch_size=2, shuffle=False)
    assert batches_of(sampler) == [[1, 3], [0, 2], [4]]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 0}, r"batch_size \(0\) must be positive"),
        (
            {"batch_size": 2, "num_replicas": 2, "rank": 2},
            r"rank \(2\) must be in \[0, num_replicas \(2\)\)",
        ),
        ({"batch_size": 2, "rank": -1}, r"rank \(-1\)"),
    ],
)
def test_invalid_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        BucketBatchSampler(LENGTHS, **options)


# --- several replicas ----------------------------------------------------------------------


def _replicas(lengths, replicas, **options):
    samplers = [
        BucketBatchSampler(lengths, num_replicas=replicas, rank=rank, **options)
        for rank in range(replicas)
    ]
    return samplers, [batches_of(s) for s in samplers]


@pytest.mark.parametrize(("n", "batch_size"), [(1000, 32), (1000, 10), (33, 4), (5, 8)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_even_replicas_get_equal_counts_of_disjoint_batches(n, batch_size, shuffle):
    lengths = random_lengths(n)
    samplers, per_rank = _replicas(lengths, 2, batch_size=batch_size, shuffle=shuffle, seed=7)
    total = -(-n // batch_size)
    assert len(per_rank[0]) == len(per_rank[1]) == total // 2
    assert [len(s) for s in samplers] == [total // 2] * 2
    seen = [i for batches in per_rank for b in batches for i in b]
    assert len(seen) == len(set(seen))  # disjoint
    if total % 2 == 0:
        assert sorted(seen) == list(range(n))
    else:  # exactly one batch is left out this epoch
        all_batches = batches_of(
            BucketBatchSampler(lengths, batch_size=batch_size, shuffle=shuffle, seed=7)
        )
        left_out = [b for b in all_batches if b not in per_rank[0] + per_rank[1]]
        assert len(left_out) == 1
        assert sorted(seen + left_out[0]) == list(range(n))


@pytest.mark.parametrize(
    ("n", "batch_size", "replicas"), [(1000, 32, 2), (33, 4, 2), (33, 4, 3), (5, 8, 2), (10, 1, 4)]
)
def test_uneven_replicas_cover_everything_once(n, batch_size, replicas):
    lengths = random_lengths(n)
    samplers, per_rank = _replicas(lengths, replicas, batch_size=batch_size, even=False, seed=2)
    seen = [i for batches in per_rank for b in batches for i in b]
    assert sorted(seen) == list(range(n))
    assert [len(s) for s in samplers] == [len(b) for b in per_rank]


def test_replicas_take_interleaved_batches_of_the_same_epoch_order():
    single = batches_of(BucketBatchSampler(LENGTHS, batch_size=16, seed=3))
    _, per_rank = _replicas(LENGTHS, 2, batch_size=16, seed=3)
    assert per_rank[0] == single[0::2][: len(single) // 2]
    assert per_rank[1] == single[1::2][: len(single) // 2]


def test_replicas_agree_on_the_epoch_order():
    samplers, _ = _replicas(LENGTHS, 2, batch_size=16, seed=3)
    for sampler in samplers:
        sampler.set_epoch(2)
    per_rank = [batches_of(s) for s in samplers]
    seen = [i for batches in per_rank for b in batches for i in b]
    assert len(seen) == len(set(seen))


# --- dataset, collator and batch -----------------------------------------------------------


def test_encoded_dataset_items():
    dataset = EncodedDataset([[5, 6, 7], [8]], labels=[1, 0])
    assert len(dataset) == 2
    index, ids, label = dataset[1]
    assert (index, ids.tolist(), label) == (1, [8], 0)
    assert ids.dtype == torch.long
    assert dataset.lengths == [3, 1]
    assert EncodedDataset([[1]])[0][2] is None


def test_encoded_dataset_rejects_empty_sequences_and_label_mismatch():
    with pytest.raises(ValueError, match="at least one token"):
        EncodedDataset([[1], []])
    with pytest.raises(ValueError, match="3 sequences but 2 labels"):
        EncodedDataset([[1], [2], [3]], labels=[0, 1])


def test_collator_pads_with_the_pad_id_and_records_lengths_labels_and_positions():
    dataset = EncodedDataset([[5, 6, 7], [8], [9, 10]], labels=[2, 0, 1])
    batch = Collator(pad_index=3)([dataset[1], dataset[0], dataset[2]])
    assert batch.token_ids.tolist() == [[8, 3, 3], [5, 6, 7], [9, 10, 3]]
    assert batch.token_ids.dtype == torch.long
    assert batch.lengths.tolist() == [1, 3, 2]
    assert batch.lengths.dtype == torch.long
    assert batch.labels.tolist() == [0, 2, 1]
    assert batch.index.tolist() == [1, 0, 2]
    assert len(batch) == 3
    assert batch.mask.tolist() == [
        [True, False, False],
        [True, True, True],
        [True, True, False],
    ]


def test_collator_without_labels():
    dataset = EncodedDataset([[4], [4, 4]])
    batch = Collator(pad_index=0)([dataset[0], dataset[1]])
    assert batch.labels is None
    assert batch.token_ids.tolist() == [[4, 0], [4, 4]]


def test_mask_marks_exactly_the_real_tokens():
    torch.manual_seed(0)
    lengths = torch.randint(1, 12, (20,))
    ids = torch.zeros(20, int(lengths.max()), dtype=torch.long)
    mask = TextBatch(ids, lengths).mask
    assert mask.dtype == torch.bool
    assert mask.sum(dim=1).tolist() == lengths.tolist()
    for row, length in zip(mask, lengths.tolist(), strict=True):
        assert row[:length].all()
        assert not row[length:].any()


def test_sampler_and_collator_work_in_a_dataloader():
    lengths = random_lengths(100, seed=1)
    dataset = EncodedDataset([[7] * n for n in lengths], labels=[n % 3 for n in lengths])
    sampler = BucketBatchSampler(dataset.lengths, batch_size=8, seed=0)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, collate_fn=Collator(0))
    seen = []
    for batch in loader:
        assert batch.lengths.tolist() == [lengths[i] for i in batch.index.tolist()]
        assert batch.token_ids.size(1) == max(batch.lengths.tolist())
        assert (batch.token_ids[~batch.mask] == 0).all()
        assert (batch.token_ids[batch.mask] == 7).all()
        seen += batch.index.tolist()
    assert sorted(seen) == list(range(100))
    assert len(loader) == len(sampler) == 13


def test_a_datamodule_from_a_config_batches_as_its_data_section_says():
    cfg = load_config(
        {"task": "tag"}, ["data.batch_size=3", "data.eval_batch_size=5", "data.bucket=false"]
    )
    dataset = EncodedDataset([[2, 3, 4]] * 7, [0] * 7)
    datamodule = TextDataModule.from_config(cfg, train=dataset, val=dataset, pad_index=0)
    assert (datamodule.batch_size, datamodule.eval_batch_size) == (3, 5)
    assert (datamodule.bucket, datamodule.seed, datamodule.num_workers) == (False, 13, 0)
    assert [len(batch) for batch in datamodule.val_dataloader()] == [5, 2]
