"""What moves PyTorch's training step (issue 13's twin, bench/train/twin.py): random-normal against
image-like inputs, and gradients set to None against zeroed in place.

    OMP_NUM_THREADS=2 /usr/bin/python3 bench/train/twin-data.py [--batch 32] [--size 64] [--rounds 3]

Each round runs four configurations, interleaved, each on a freshly built model in one process, after
4 warm-up steps. Written when run.ts's twin (then zeroing in place) came out up to 2x slower per step
than the epoch twin (set to None).
"""
import argparse, json, os, sys, time
import torch, torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import twin  # noqa: E402

# archSpec("resnet18", { nOut: 10 }) of trainer/src/model
RESNET18 = {"name": "resnet18", "nOut": 10, "inChannels": 3, "layers": [2, 2, 2, 2], "expansion": 1, "stem": [32, 32, 64],
            "block": "res", "widths": [64, 128, 256, 512], "firstStride": 1}

p = argparse.ArgumentParser()
p.add_argument("--batch", type=int, default=32)
p.add_argument("--size", type=int, default=64)
p.add_argument("--rounds", type=int, default=3)
p.add_argument("--steps", type=int, default=8)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)


def run(kind, to_none):
    torch.manual_seed(0)
    model = twin.Twin(RESNET18).to(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    B, S = a.batch, a.size
    # image-like: pixels 0..255 normalised as the trainer does (mean ~120, std ~60), not a normal distribution
    x = torch.randn(B, 3, S, S) if kind == "randn" else (torch.rand(B, 3, S, S) * 255 - 120) / 60
    x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (B,))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)

    def step():
        opt.zero_grad(set_to_none=to_none)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(4):
        step()
    t = time.perf_counter()
    for _ in range(a.steps):
        step()
    return (time.perf_counter() - t) / a.steps * 1000


rows = []
for r in range(a.rounds):
    for kind in ("randn", "image-like"):
        for to_none in (True, False):
            ms = run(kind, to_none)
            rows.append({"round": r, "input": kind, "grads": "set to None" if to_none else "zeroed in place",
                         "msPerStep": round(ms, 1), "imagesPerSec": round(a.batch * 1000 / ms, 1)})
            print(json.dumps(rows[-1]), flush=True)
