#!/usr/bin/python3
"""PyTorch twin of trainer/src/model: the fastai book ch.14 definitions, written independently.

Run with Debian's python3-torch (/usr/bin/python3). Module attribute names mirror the TS
parameter names (stem.0.conv.weight, body.1.0.idpath.idconv.bn.running_var, head.linear.bias), so
weights exported by the TS side load by name.

  twin.py count   --spec '<ArchSpec json>'
  twin.py forward --spec '<json>' --weights W.bin --index W.json --input X.bin --shape N,H,W,C
  twin.py bench   --spec '<json>' --size 64 --batch 32 --threads 2 --steps 3 --warmup 1
"""
import argparse
import json
import sys
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


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["count", "forward", "bench"])
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
    else:
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        x = torch.randn(a.batch, 3, a.size, a.size)
        y = torch.randint(0, spec["nOut"], (a.batch,))
        model.train()

        def step():
            opt.zero_grad()
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
        print(json.dumps({"msPerStep": wall * 1000, "cpuMsPerStep": cpu * 1000, "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
