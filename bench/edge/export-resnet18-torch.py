# Outside reference only: a torchvision ResNet-18 with random weights (seed 0), exported to ONNX with
# dynamic N/H/W, for latency and memory benchmarks when no trained export is at hand.
# Run with Debian's python (python3-torch, python3-torchvision, python3-onnx):
#   /usr/bin/python3 bench/edge/export-resnet18-torch.py .cache/bench-edge/resnet18.onnx
import sys
import torch
import torchvision

out = sys.argv[1]
torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=10).eval()
x = torch.randn(1, 3, 224, 224)
torch.onnx.export(
    model, x, out, input_names=["input"], output_names=["logits"], opset_version=13,
    dynamic_axes={"input": {0: "N", 2: "H", 3: "W"}, "logits": {0: "N"}},
)
print("wrote", out)
