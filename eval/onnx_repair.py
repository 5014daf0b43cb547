"""Corrections to the ONNX graph MindSpore 2.10 writes for ERFNet (`mindspore.onnx.export`), which
onnxruntime otherwise refuses or runs wrongly:

- ConvTranspose carries `output_shape` with four values (N, C, H, W) where ONNX wants the spatial ones;
  onnxruntime stops with "Attribute output_shape has incorrect size". The output size follows from stride,
  kernel and pads, so an `output_shape` longer than the kernel's dimensions is dropped.
- Conv and ConvTranspose `pads` are written in MindSpore's (top, bottom, left, right) order; ONNX reads (top,
  left, bottom, right). Square pads are unaffected; ERFNet's 3x1 and 1x3 convolutions and the upsamplers'
  one-sided trim are shifted or refused. Whether a release does this is probed (eval.export.pads_in_mindspore_order),
  and the pads are reordered only then.
- MindSpore names the graph's output after an internal node and fails when given `output_names`; the graph's
  input and output are renamed here.

The repaired file is checked against the MindSpore network's output by eval.export, never trusted blindly.
"""
import onnx

INPUT_NAME, OUTPUT_NAME = "image", "logits"


def _rename(graph, old, new):
    for node in graph.node:
        node.input[:] = [new if name == old else name for name in node.input]
        node.output[:] = [new if name == old else name for name in node.output]
    for value in list(graph.input) + list(graph.output):
        if value.name == old:
            value.name = new


def _spatial_dimensions(node):
    return next(len(attribute.ints) for attribute in node.attribute if attribute.name == "kernel_shape")


def repair(model, reorder_pads):
    """Fix `model` (an onnx.ModelProto from MindSpore) in place and return it, validated by onnx.checker.
    `reorder_pads`: the exporting MindSpore writes pads as (top, bottom, left, right)."""
    graph = model.graph
    for node in graph.node:
        if node.op_type == "ConvTranspose":
            kept = [attribute for attribute in node.attribute if attribute.name != "output_shape"
                    or len(attribute.ints) == _spatial_dimensions(node)]
            del node.attribute[:]
            node.attribute.extend(kept)
        if reorder_pads and node.op_type in ("Conv", "ConvTranspose"):
            for attribute in node.attribute:
                if attribute.name == "pads" and len(attribute.ints) == 4:
                    top, bottom, left, right = attribute.ints
                    attribute.ints[:] = [top, left, bottom, right]
    _rename(graph, graph.input[0].name, INPUT_NAME)
    _rename(graph, graph.output[0].name, OUTPUT_NAME)
    onnx.checker.check_model(model, full_check=True)
    return model
