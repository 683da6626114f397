"""Data-parallel training checked for real: torchrun with 2 processes equals one process at the
same global batch (and batch_gpu), every rank holds the same weights, bad batch splits are one line."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from geogen.common.errors import UserError
from geogen.model.config import model_config
from geogen.training.config import train_config, with_overrides
from geogen.training.data import ImageLabelDataset
from geogen.training.distributed import DistContext
from geogen.training.synthetic import write_fake_dataset
from geogen.training.trainer import Trainer

TORCHRUN = shutil.which("torchrun", path=str(Path(sys.executable).parent))
STEPS = 3  # step 0 includes the lazy R1 step
SETTINGS = {"reuse": ["loss.batch_size=4", "batch_gpu=2", "reuse_fakes=true"],        # tiny preset's loop
            "eg3d-loop": ["loss.batch_size=4", "batch_gpu=2", "reuse_fakes=false"]}   # G phase, then D phase

# Run by torchrun (and, with WORLD_SIZE unset, as the single process): STEPS iterations per setting,
# then each rank saves its networks.
WORKER = textwrap.dedent(f"""
    import sys, torch
    from geogen.model.config import model_config
    from geogen.training.config import train_config, with_overrides
    from geogen.training.data import ImageLabelDataset
    from geogen.training.distributed import init_distributed, shutdown
    from geogen.training.trainer import Trainer
    torch.set_num_threads(1)
    data, out = sys.argv[1], sys.argv[2]
    ctx = init_distributed()
    saved = {{}}
    for name, sets in {SETTINGS!r}.items():
        cfg = with_overrides(train_config("tiny", "geogen"), sets)
        t = Trainer(cfg, model_config("tiny", "geogen"), ImageLabelDataset(data, 64), ctx)
        stats = [t.train_step() for _ in range({STEPS})]
        saved[name] = {{"G": t.G.state_dict(), "D": t.D.state_dict(), "G_ema": t.G_ema.state_dict(),
                       "stats": stats, "rounds": t.rounds}}
    torch.save(saved, f"{{out}}/rank{{ctx.rank}}-of-{{ctx.world}}.pt")
    shutdown(ctx)
""")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_fake_dataset(tmp_path_factory.mktemp("data"), identities=2, views=2, resolution=64)


def _trainer(data, sets, ctx=DistContext()):
    cfg = with_overrides(train_config("tiny", "geogen"), sets)
    return Trainer(cfg, model_config("tiny", "geogen"), ImageLabelDataset(data, 64), ctx)


def _max_diff(a: dict, b: dict) -> float:
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].is_floating_point())


@pytest.mark.slow
@pytest.mark.skipif(TORCHRUN is None, reason="no torchrun")
def test_two_processes_equal_one_process_at_the_same_global_batch(data, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [TORCHRUN, "--standalone", "--nproc_per_node", "2", str(script), str(data), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    single = subprocess.run([sys.executable, str(script), str(data), str(tmp_path)], env=env, capture_output=True,
                            text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    one = torch.load(tmp_path / "rank0-of-1.pt")
    r0, r1 = torch.load(tmp_path / "rank0-of-2.pt"), torch.load(tmp_path / "rank1-of-2.pt")
    for name in SETTINGS:
        assert (one[name]["rounds"], r0[name]["rounds"]) == (2, 1)  # one process accumulates two micro-batches
        for net in ("G", "D", "G_ema"):
            # every rank holds the same weights and buffers (w_avg included), bit for bit
            assert all(torch.equal(r0[name][net][k], r1[name][net][k]) for k in r0[name][net]), (name, net)
            # and they equal the single process's after STEPS optimizer steps, to float tolerance
            diff = _max_diff(one[name][net], r0[name][net])
            assert diff < 1e-5, (name, net, diff)
        assert not torch.equal(one[name]["G"]["mapping_network.w_avg"], torch.zeros_like(
            one[name]["G"]["mapping_network.w_avg"]))
        for a, b in zip(one[name]["stats"], r0[name]["stats"]):  # logged losses are global means
            assert a.keys() == b.keys()
            assert all(abs(a[k] - b[k]) <= 1e-4 * max(1.0, abs(a[k])) for k in a), (name, a, b)
    # the comparison is sensitive: other randomness (batch_gpu 4: one stream for all 4 samples) differs
    other = _trainer(data, ["loss.batch_size=4", "reuse_fakes=true"])
    for _ in range(STEPS):
        other.train_step()
    assert _max_diff(other.G.state_dict(), one["reuse"]["G"]) > 1e-4


def test_batch_that_does_not_split_is_a_one_line_error(data):
    with pytest.raises(UserError, match=r"^batch size 3 is not divisible by the 2 processes; change "
                                        r"--set loss.batch_size or --nproc_per_node$"):
        _trainer(data, ["loss.batch_size=3"], DistContext(rank=0, world=2))
    with pytest.raises(UserError, match=r"^batch_gpu 3 does not divide the 4 samples per process"):
        _trainer(data, ["loss.batch_size=8", "batch_gpu=3"], DistContext(rank=1, world=2))
    with pytest.raises(UserError, match="bf16=true is not supported yet"):
        _trainer(data, ["bf16=true"])
    assert _trainer(data, ["loss.batch_size=8", "batch_gpu=2"]).rounds == 4  # one process: 4 micro-batches
