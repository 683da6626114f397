"""The safe model-file format: round trip, and refusal (one line, nothing executed) of bad files."""

import pickle

import pytest
import torch

from geogen.cli.generate import main as gen_main
from geogen.cli.generate import parse_seeds
from geogen.common.errors import UserError
from geogen.model.config import model_config
from geogen.model.generator import Generator
from geogen.training import checkpoint as ckpt


class _Payload:
    """Pickles to a call of open(marker, "w"): loading it unsafely would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    cfg = model_config("tiny", "geogen")
    torch.manual_seed(0)
    G = Generator(cfg)
    path = tmp_path_factory.mktemp("m") / "geogen.pkl"
    ckpt.save_file(path, {"model_config": cfg.to_dict(), "G_ema": G.state_dict(),
                          "meta": {"camera": {"radius": 2.7, "elevation": 0.0, "focal": 3.2}}}, "model")
    return path, G


def test_model_file_round_trip(model_file):
    path, G = model_file
    G2, cfg, meta = ckpt.load_model_file(path)
    assert cfg == G.cfg and meta["camera"]["focal"] == 3.2 and meta["kind"] == "model"
    for (k, a), (k2, b) in zip(G.state_dict().items(), G2.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert not any(p.requires_grad for p in G2.parameters())


def test_truncated_file_is_refused(model_file, tmp_path):
    data = model_file[0].read_bytes()
    bad = tmp_path / "trunc.pkl"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="truncated or not a GeoGen file") as err:
        ckpt.load_model_file(bad)
    assert "\n" not in str(err.value)


def test_wrong_format_version_is_refused(tmp_path):
    path = tmp_path / "future.pkl"
    torch.save({"format": "geogen", "format_version": 99, "kind": "model"}, path)
    with pytest.raises(UserError, match="format version 99"):
        ckpt.load_model_file(path)


def test_foreign_dict_and_missing_keys_are_refused(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(UserError, match="not a GeoGen model file"):
        ckpt.load_model_file(tmp_path / "foreign.pt")
    ckpt.save_file(tmp_path / "partial.pkl", {"model_config": {}}, "model")
    with pytest.raises(UserError, match="lacks G_ema"):
        ckpt.load_model_file(tmp_path / "partial.pkl")


@pytest.mark.parametrize("writer, match", [
    ("torch.save", "refused and nothing in it was run: it references .*open"),
    ("pickle protocol 2", "refused and nothing in it was run: it references .*open"),
    ("pickle default protocol", "not a GeoGen file .*nothing in it was run"),
])
def test_pickled_code_is_refused_and_not_run(tmp_path, writer, match):
    marker = tmp_path / "PAYLOAD_RAN"
    obj = {"format": "geogen", "format_version": 1, "kind": "model", "model_config": {}, "G_ema": _Payload(marker)}
    path = tmp_path / "evil.pkl"
    if writer == "torch.save":
        torch.save(obj, path)
    elif writer == "pickle protocol 2":
        path.write_bytes(pickle.dumps(obj, protocol=2))
    else:
        path.write_bytes(pickle.dumps(obj))
    with pytest.raises(UserError, match=match) as err:
        ckpt.load_model_file(path)
    assert "\n" not in str(err.value)
    assert not marker.exists()


def test_unsafe_load_would_have_run_payload(tmp_path):
    """Control for the test above: the payload is real (pickle.load runs it)."""
    marker = tmp_path / "PAYLOAD_RAN"
    data = pickle.dumps({"x": _Payload(marker)})
    pickle.loads(data)
    assert marker.exists()


def test_weights_that_do_not_match_the_code(tmp_path, model_file):
    _, G = model_file
    state = dict(G.state_dict())
    state.pop(next(iter(state)))
    ckpt.save_file(tmp_path / "old.pkl", {"model_config": G.cfg.to_dict(), "G_ema": state}, "model")
    with pytest.raises(UserError, match="do not match this version of the model"):
        ckpt.load_model_file(tmp_path / "old.pkl")


def test_generate_cli_one_line_errors(tmp_path, capsys, monkeypatch):
    (tmp_path / "bad.pkl").write_bytes(b"not a model")
    for args, expected in [(["--model", str(tmp_path / "none.pkl")], "not found"),
                           (["--model", str(tmp_path / "bad.pkl")], "truncated or not a GeoGen file"),
                           (["--model", str(tmp_path / "bad.pkl"), "--seeds", "3-x"], "--seeds")]:
        monkeypatch.setattr("sys.argv", ["geogen-gen", *args, "--out", str(tmp_path / "o")])
        with pytest.raises(SystemExit) as exc:
            gen_main()
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and expected in err and "\n" not in err


def test_parse_seeds():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("5,1-2,5") == [1, 2, 5]
    for bad in ("", "a", "3-1", "-2", "1-2-3"):
        with pytest.raises(UserError):
            parse_seeds(bad)


def test_snapshot_bookkeeping(tmp_path):
    for kimg in (0.5, 1.0, 12.25):
        ckpt.save_file(tmp_path / ckpt.snapshot_name(kimg), {"x": torch.zeros(1)}, "snapshot")
    assert ckpt.find_latest(tmp_path).name == ckpt.snapshot_name(12.25)
    ckpt.write_latest(tmp_path, ckpt.snapshot_name(1.0))
    assert ckpt.find_latest(tmp_path).name == ckpt.snapshot_name(1.0)
    ckpt.prune_snapshots(tmp_path, keep=1)
    names = [p.name for p in ckpt.list_snapshots(tmp_path)]
    assert names == [ckpt.snapshot_name(1.0), ckpt.snapshot_name(12.25)]  # latest pointer is kept


def test_pruning_keeps_milestones(tmp_path):
    for kimg in (4.0, 5.0, 6.0, 9.5, 10.0, 11.0, 12.0):
        ckpt.save_file(tmp_path / ckpt.snapshot_name(kimg), {"x": torch.zeros(1)}, "snapshot")
    ckpt.prune_snapshots(tmp_path, keep=2, milestone_kimg=5.0)
    kept = [float(p.name[9:-3]) for p in ckpt.list_snapshots(tmp_path)]
    assert kept == [5.0, 10.0, 11.0, 12.0]
    ckpt.prune_snapshots(tmp_path, keep=1)  # no milestones: only the newest (= latest) stays
    assert [p.name for p in ckpt.list_snapshots(tmp_path)] == [ckpt.snapshot_name(12.0)]
