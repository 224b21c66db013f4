"""The translation export's plumbing: the model's dataclasses flattened into the graphs' named
tensors and rebuilt, and a folder without both graphs refused by name."""

import pytest
import torch

from textseq.errors import ModelDirError
from textseq.models.seq2seq import RecurrentState
from textseq.models.seq2seq_transformer import DecoderCache
from textseq.tasks.translate.export import leaves, rebuild
from textseq.tasks.translate.onnx_model import graph_files


def test_a_state_is_flattened_into_named_tensors_and_rebuilt():
    gru = RecurrentState(hidden=torch.randn(2, 1, 4), cell=None, feed=torch.randn(2, 3))
    assert [name for name, _ in leaves(gru, "state.")] == ["state.hidden", "state.feed"]
    cache = DecoderCache(past=[(torch.randn(2, 4, 3, 8), torch.randn(2, 4, 3, 8))] * 2)
    named = leaves(cache, "state.")
    assert [n for n, _ in named] == [f"state.past.{i}.{j}" for i in (0, 1) for j in (0, 1)]
    doubled = rebuild(cache, iter([2 * t for _, t in named]))
    assert isinstance(doubled, DecoderCache) and doubled.length == 3
    assert torch.equal(doubled.past[1][0], 2 * cache.past[1][0])
    rebuilt = rebuild(gru, iter([t for _, t in leaves(gru, "state.")]))
    assert rebuilt.cell is None and torch.equal(rebuilt.feed, gru.feed)
    with pytest.raises(TypeError, match="cannot export a str between graphs"):
        leaves("b", "x.")


def test_a_folder_without_both_graphs_is_refused_by_name(tmp_path):
    (tmp_path / "encoder.onnx").write_bytes(b"")
    with pytest.raises(ModelDirError, match=r"no decoder_step\.onnx"):
        graph_files(tmp_path)
    (tmp_path / "decoder_step.onnx").write_bytes(b"")
    assert graph_files(tmp_path / "encoder.onnx") == (
        tmp_path / "encoder.onnx",
        tmp_path / "decoder_step.onnx",
    )
