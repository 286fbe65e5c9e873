#!/usr/bin/python3
"""PyTorch twin of trainer/src/model: the fastai book ch.14 definitions, written independently.

Run with Debian's python3-torch (/usr/bin/python3). Module attribute names mirror the TS
parameter names (stem.0.conv.weight, body.1.0.idpath.idconv.bn.running_var, head.linear.bias), so
weights exported by the TS side load by name.

  twin.py count   --spec '<ArchSpec json>'
  twin.py forward --spec '<json>' --weights W.bin --index W.json --input X.bin --shape N,H,W,C
  twin.py bench   --spec '<json>' --size 64 --batch 32 --threads 2 --steps 3 --warmup 1
  twin.py epoch   --spec '<json>' --data <imagenette folder> --size 64 --batch 64 --threads 2
                  [--train-batches N --val-batches M]   (see epoch_bench)

bench and epoch train in channels-last memory format (NHWC strides), PyTorch's fast CPU layout.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import torch
from torch import nn
import torch.nn.functional as F


class ConvLayer(nn.Module):
    """conv (no bias, Kaiming normal) -> BatchNorm -> optional ReLU; padding (ks-1)//2."""

    def __init__(self, ni, nf, ks=3, stride=1, act=True, zero_bn=False):
        super().__init__()
        self.conv = nn.Conv2d(ni, nf, ks, stride=stride, padding=(ks - 1) // 2, bias=False)
        nn.init.kaiming_normal_(self.conv.weight)
        self.bn = nn.BatchNorm2d(nf)  # eps 1e-5, momentum 0.1
        nn.init.constant_(self.bn.weight, 0.0 if zero_bn else 1.0)
        self.relu = nn.ReLU() if act else None

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.relu(x) if self.relu is not None else x


class IdPath(nn.Module):
    def __init__(self, ni, nf, stride):
        super().__init__()
        self.pool = nn.AvgPool2d(2, ceil_mode=True) if stride != 1 else None
        self.idconv = ConvLayer(ni, nf, 1, act=False) if ni != nf else None

    def forward(self, x):
        if self.pool is not None:
            x = self.pool(x)
        if self.idconv is not None:
            x = self.idconv(x)
        return x


class ResBlock(nn.Module):
    def __init__(self, ni, nf, stride, expansion):
        super().__init__()
        if expansion == 1:
            self.convs = nn.Sequential(ConvLayer(ni, nf, stride=stride), ConvLayer(nf, nf, act=False, zero_bn=True))
        else:
            mid = nf // expansion
            self.convs = nn.Sequential(
                ConvLayer(ni, mid, 1), ConvLayer(mid, mid, stride=stride), ConvLayer(mid, nf, 1, act=False, zero_bn=True))
        self.idpath = IdPath(ni, nf, stride)

    def forward(self, x):
        return F.relu(self.convs(x) + self.idpath(x))


class Head(nn.Module):
    def __init__(self, ni, n_out):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(ni, n_out)

    def forward(self, x):
        return self.linear(self.flatten(self.pool(x)))


class Twin(nn.Module):
    def __init__(self, spec):
        super().__init__()
        ch = spec["inChannels"]
        stem = []
        for i, out in enumerate(spec["stem"]):
            stem.append(ConvLayer(ch, out, stride=2 if i == 0 else 1))
            ch = out
        if stem:
            stem.append(nn.MaxPool2d(3, stride=2, padding=1))
        self.stem = nn.Sequential(*stem)
        stages = []
        for i, width in enumerate(spec["widths"]):
            out = width * spec["expansion"] if spec["block"] == "res" else width
            count = spec["layers"][i] if i < len(spec["layers"]) else 1
            blocks = []
            for j in range(count):
                stride = 1 if j > 0 else (spec["firstStride"] if i == 0 else 2)
                if spec["block"] == "conv":
                    blocks.append(ConvLayer(ch, out, stride=stride))
                else:
                    blocks.append(ResBlock(ch, out, stride, spec["expansion"]))
                ch = out
            stages.append(nn.Sequential(*blocks))
        self.body = nn.Sequential(*stages)
        self.head = Head(ch, spec["nOut"])

    def forward(self, x):
        return self.head(self.body(self.stem(x)))


def load_weights(model, weights_path, index_path):
    """Loads TS-layout float32 weights (conv [kh,kw,in,out], linear [in,out]) by name."""
    index = json.load(open(index_path))
    blob = torch.frombuffer(bytearray(open(weights_path, "rb").read()), dtype=torch.float32)
    state = model.state_dict()
    seen = set()
    for entry in index:
        name, shape, offset = entry["name"], entry["shape"], entry["offset"]
        size = 1
        for d in shape:
            size *= d
        t = blob[offset:offset + size].reshape(shape)
        if len(shape) == 4:
            t = t.permute(3, 2, 0, 1)
        elif len(shape) == 2:
            t = t.t()
        if name not in state:
            sys.exit(f"twin has no tensor named {name}")
        if tuple(state[name].shape) != tuple(t.shape):
            sys.exit(f"{name}: twin shape {tuple(state[name].shape)} != {tuple(t.shape)}")
        state[name] = t.contiguous()
        seen.add(name)
    missing = [k for k in state if k not in seen and not k.endswith("num_batches_tracked")]
    if missing:
        sys.exit(f"weights file lacks {missing[:5]}")
    model.load_state_dict(state)


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def list_split(root, split):
    """Imagenette layout: <root>/<split>/<wnid>/*.JPEG, classes in sorted folder order."""
    d = os.path.join(root, split)
    classes = sorted(c for c in os.listdir(d) if os.path.isdir(os.path.join(d, c)))
    items = []
    for label, c in enumerate(classes):
        for f in sorted(os.listdir(os.path.join(d, c))):
            if f.lower().endswith((".jpeg", ".jpg", ".png")):
                items.append((os.path.join(d, c, f), label))
    return items


def decode_square(path, side):
    """Decode, RGB, Pillow-bilinear resize of the shortest edge to `side`, centre crop: uint8 [3, side, side]."""
    from PIL import Image
    im = Image.open(path)
    im.draft("RGB", (side, side))
    im = im.convert("RGB")
    w, h = im.size
    s = side / min(w, h)
    nw, nh = max(side, round(w * s)), max(side, round(h * s))
    im = im.resize((nw, nh), Image.BILINEAR)
    l, t = (nw - side) // 2, (nh - side) // 2
    im = im.crop((l, t, l + side, t + side))
    return torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).reshape(side, side, 3).permute(2, 0, 1)


def epoch_bench(model, a):
    """The issue-13 recipe end to end, one epoch (or its first N train / M valid batches), timed by phase.

    Data held decoded in memory (train presized to --presize, valid at --size, both uint8, decoded before
    the clock starts, as fastai's presize does); each batch: RandomResizedCrop(size, scale=(min_scale, 1),
    ratio 1) + horizontal flip on the batch (torchvision roi_align, bilinear), normalise, channels-last;
    AdamW (betas 0.9/0.99, eps 1e-5, wd 0.01 except BatchNorm and biases) on a one-cycle schedule over
    the full epoch; cross-entropy with label smoothing 0.1; validation in eval mode; a checkpoint
    (weights + optimiser) after the epoch.
    """
    from torchvision.ops import roi_align
    g = torch.Generator().manual_seed(0)
    train_items, valid_items = list_split(a.data, "train"), list_split(a.data, "val")
    full_train = len(train_items) // a.batch
    full_valid = -(-len(valid_items) // a.batch)
    n_train = full_train if a.train_batches <= 0 else min(a.train_batches, full_train)
    n_valid = full_valid if a.val_batches <= 0 else min(a.val_batches, full_valid)
    order = torch.randperm(len(train_items), generator=g)[: n_train * a.batch].tolist()
    valid_idx = list(range(min(len(valid_items), n_valid * a.batch)))

    t0 = time.perf_counter()
    train_px = torch.stack([decode_square(train_items[i][0], a.presize) for i in order])
    train_y = torch.tensor([train_items[i][1] for i in order])
    valid_px = torch.stack([decode_square(valid_items[i][0], a.size) for i in valid_idx])
    valid_y = torch.tensor([valid_items[i][1] for i in valid_idx])
    load_seconds = time.perf_counter() - t0
    decoded = len(order) + len(valid_idx)

    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255
    model = model.to(memory_format=torch.channels_last)
    # fastai's defaults: no weight decay on BatchNorm and bias parameters (the 1-D ones).
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.99), eps=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=full_train, pct_start=0.25, div_factor=25,
                                                final_div_factor=1e5, base_momentum=0.85, max_momentum=0.95)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    phases = {"trainData": 0.0, "step": 0.0, "validData": 0.0, "validForward": 0.0, "checkpoint": 0.0}
    P, S, B = a.presize, a.size, a.batch

    def train_batch(b):
        px = train_px[b * B:(b + 1) * B].float()
        area = torch.empty(B).uniform_(a.min_scale, 1.0, generator=g) * P * P
        side = area.sqrt().clamp(max=P)
        x0 = torch.rand(B, generator=g) * (P - side)
        y0 = torch.rand(B, generator=g) * (P - side)
        boxes = torch.stack([torch.arange(B, dtype=torch.float32), x0, y0, x0 + side, y0 + side], 1)
        x = roi_align(px, boxes, output_size=(S, S), spatial_scale=1.0, sampling_ratio=1, aligned=True)
        flip = torch.rand(B, generator=g) < 0.5
        x[flip] = x[flip].flip(3)
        x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
        return x, train_y[b * B:(b + 1) * B]

    c0, tfit = time.process_time(), time.perf_counter()
    model.train()
    first_batch = 0.0
    for b in range(n_train):
        t = time.perf_counter()
        x, y = train_batch(b)
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        loss.item()
        t2 = time.perf_counter()
        phases["trainData"] += t1 - t
        phases["step"] += t2 - t1
        if b == 0:
            first_batch = t2 - t
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for b in range(n_valid):
            t = time.perf_counter()
            x = ((valid_px[b * B:(b + 1) * B].float() - mean) / std).contiguous(memory_format=torch.channels_last)
            y = valid_y[b * B:(b + 1) * B]
            t1 = time.perf_counter()
            logits = model(x)
            loss_sum += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            phases["validData"] += t1 - t
            phases["validForward"] += time.perf_counter() - t1
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, os.path.join(d, "checkpoint.pt"))
    phases["checkpoint"] = time.perf_counter() - t
    fit_seconds = time.perf_counter() - tfit
    n_seen = len(valid_idx)
    return {
        "engine": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(), "size": S, "bs": B,
        "channelsLast": True, "loadSeconds": load_seconds, "decodedImages": decoded,
        "full": {"train": full_train, "trainItems": len(train_items), "validItems": len(valid_items), "validBatches": full_valid},
        "run": {"trainBatches": n_train, "validBatches": n_valid},
        "phases": phases, "firstBatchSeconds": first_batch, "fitSeconds": fit_seconds, "cpuSeconds": time.process_time() - c0,
        "validLoss": loss_sum / max(1, n_seen), "accuracy": correct / max(1, n_seen),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["count", "forward", "bench", "epoch"])
    p.add_argument("--spec", required=True)
    p.add_argument("--weights")
    p.add_argument("--index")
    p.add_argument("--input")
    p.add_argument("--shape")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--data")
    p.add_argument("--presize", type=int, default=160)
    p.add_argument("--train-batches", type=int, default=0)
    p.add_argument("--val-batches", type=int, default=0)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--min-scale", type=float, default=0.5)
    a = p.parse_args()
    spec = json.loads(a.spec)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Twin(spec)

    if a.mode == "count":
        print(json.dumps({"params": sum(t.numel() for t in model.parameters())}))
    elif a.mode == "forward":
        load_weights(model, a.weights, a.index)
        n, h, w, c = (int(v) for v in a.shape.split(","))
        x = torch.frombuffer(bytearray(open(a.input, "rb").read()), dtype=torch.float32).reshape(n, h, w, c).permute(0, 3, 1, 2)
        with torch.no_grad():
            model.eval()
            logits_eval = model(x)
            model.train()
            logits_train = model(x)
        running = {k: v.flatten().tolist() for k, v in model.state_dict().items() if k.endswith("running_mean") or k.endswith("running_var")}
        print(json.dumps({"eval": logits_eval.flatten().tolist(), "train": logits_train.flatten().tolist(), "running": running}))
    elif a.mode == "epoch":
        print(json.dumps(epoch_bench(model, a)))
    else:
        model = model.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        x = torch.randn(a.batch, 3, a.size, a.size).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, spec["nOut"], (a.batch,))
        model.train()

        def step():
            # set_to_none (PyTorch 2's default, and the epoch twin's): zeroing the gradients in place made
            # PyTorch's step 1.5x slower on this VM (bench/train/twin-data.py), understating it.
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()

        for _ in range(a.warmup):
            step()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(a.steps):
            step()
        wall, cpu = (time.perf_counter() - t0) / a.steps, (time.process_time() - c0) / a.steps
        print(json.dumps({"msPerStep": wall * 1000, "cpuMsPerStep": cpu * 1000, "threads": torch.get_num_threads(), "torch": torch.__version__, "channelsLast": True}))


if __name__ == "__main__":
    main()
