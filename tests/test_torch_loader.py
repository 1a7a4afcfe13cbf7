"""PyTorch the way PyTorch users work (issue 14, item 5): ``IterableDataset(stream,
format="torch")`` yields dicts of tensors, and ``state_dict`` / ``load_state_dict`` let
``torchdata``'s ``StatefulDataLoader`` with 2 workers resume mid-epoch exactly, without
reading the batches already seen.

Skipped without torch (and the resume tests without torchdata).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import grumpy_arrow as gr

pytestmark = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning"),
    pytest.mark.filterwarnings("ignore:'set_vital' is deprecated:UserWarning"),
]
torch = pytest.importorskip("torch")
import grumpy_arrow.interop.torch as grt  # noqa: E402


def molecules(n: int) -> gr.DataFrame:
    """Molecule ``i``: ``i % 3`` atoms with x = ``i + k / 10``, a name, element symbols."""
    return gr.dataframe(
        {
            "mol_id": list(range(n)),
            "mol_name": [f"m{i}" for i in range(n)],
            "atom_x": [[i + k / 10 for k in range(i % 3)] for i in range(n)],
            "atom_el": [["C", "H", "O"][: i % 3] for i in range(n)],
        },
        schema=["mol", "atom"],
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("loader") / "m.gr"
    gr.save(molecules(120), path, chunk_size=16, shard_size=64)
    return str(path)


def ids_of(batch: Any) -> list[int]:
    if isinstance(batch, dict):
        return batch["mol_id"].tolist()
    return batch["mol_id"].to_list()


def test_format_torch_gives_tensors_per_column(store: str) -> None:
    st = gr.stream(store, batch_size=4)
    ds = grt.IterableDataset(st, format="torch", pad=-1.0, layout={"atom_x": "padded"})
    first = next(iter(ds))
    assert set(first) == {"mol_id", "mol_name", "atom_x", "atom_el"}
    assert first["mol_id"].dtype == torch.int64 and first["mol_id"].tolist() == [0, 1, 2, 3]
    assert first["mol_name"] == ["m0", "m1", "m2", "m3"]  # strings stay lists
    assert first["atom_el"] == [[], ["C"], ["C", "H"], []]
    values, mask = first["atom_x"]
    assert values.tolist() == [[-1.0, -1.0], [1.0, -1.0], [2.0, 2.1], [-1.0, -1.0]]
    assert mask.tolist() == [[False, False], [True, False], [True, True], [False, False]]
    jag = next(iter(grt.IterableDataset(st, format="torch", layout="jagged")))["atom_x"]
    assert jag.is_nested and [t.tolist() for t in jag.unbind()] == [[], [1.0], [2.0, 2.1], []]
    # format="grumpy" (the default) keeps frames.
    assert isinstance(next(iter(grt.IterableDataset(st))), gr.DataFrame)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "numpy"}, "format must be 'grumpy' or 'torch'"),
        ({"layout": "ragged"}, "layout must be 'padded' or 'jagged'"),
        ({"layout": {"atom_x": "dense"}}, "layout must be 'padded' or 'jagged', got 'dense'"),
    ],
)
def test_bad_options_are_refused(store: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        grt.IterableDataset(gr.stream(store, batch_size=4), **kwargs)


def test_a_dataloader_with_workers_sees_every_row_once_as_tensors(store: str) -> None:
    st = gr.stream(store, batch_size=8, shuffle=True, seed=2)
    loader = torch.utils.data.DataLoader(
        grt.IterableDataset(st, format="torch"), batch_size=None, num_workers=2
    )
    got = [ids_of(b) for b in loader]
    assert sorted(v for b in got for v in b) == list(range(120))
    assert got == [ids_of(b) for b in gr.stream(store, batch_size=8, shuffle=True, seed=2)]


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("stop_after", [1, 6, 14])
def test_stateful_dataloader_resumes_mid_epoch_exactly(
    store: str, workers: int, stop_after: int
) -> None:
    stateful = pytest.importorskip("torchdata.stateful_dataloader")

    def loader() -> Any:
        st = gr.stream(store, batch_size=8, batch_on=None, shuffle=True, seed=5, epoch=3)
        ds = grt.IterableDataset(st, format="torch")
        return stateful.StatefulDataLoader(ds, batch_size=None, num_workers=workers)

    full = [ids_of(b) for b in loader()]
    assert len(full) == 15
    first = loader()
    head = []
    for i, batch in enumerate(first):
        head.append(ids_of(batch))
        if i + 1 == stop_after:
            state = first.state_dict()
            break
    resumed = loader()
    resumed.load_state_dict(state)
    rest = [ids_of(b) for b in resumed]
    assert head + rest == full


def test_a_resumed_worker_does_not_read_the_batches_it_had_yielded(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    st = gr.stream(store, batch_size=8, shuffle=True, seed=5)
    ds = grt.IterableDataset(st)
    it = iter(ds)
    for _ in range(4):
        next(it)
    state = ds.state_dict()
    assert state["yielded"] == 4 and state["stream"]["batches_consumed"] == 0
    read: list[np.ndarray] = []
    real = gr.Handle.take
    monkeypatch.setattr(
        gr.Handle,
        "take",
        lambda self, rows, *a, **k: (read.append(np.asarray(rows)), real(self, rows, *a, **k))[1],
    )
    fresh = grt.IterableDataset(gr.stream(store, batch_size=8, shuffle=True, seed=5))
    fresh.load_state_dict(state)
    rest = [ids_of(b) for b in fresh]
    assert len(rest) == len(read) == 11  # 15 batches, 4 seen: only the other 11 were read
    order = np.random.default_rng([5, 0]).permutation(120)
    assert rest == [order[8 * k : 8 * k + 8].tolist() for k in range(4, 15)]
    with pytest.raises(ValueError, match="holds 'stream' and 'yielded'"):
        fresh.load_state_dict({"epoch": 0})
