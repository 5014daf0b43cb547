"""`--start same`: the weights PyTorch's reference trainer starts each stage from, made by the trainer's own
code under the stage's seed, for the MindSpore run to start from too.

A scratch stage starts from the whole of PyTorch's default-initialised Net. A previous_encoder stage keeps the
previous stage's trained encoder under a fresh decoder: PyTorch's fresh decoder depends only on the stage's
seed, so it is made here before training and joined to MindSpore's own trained encoder when that stage comes.
The reference trainer itself needs no start given: under its seed it builds these very weights (a test checks).
"""
from convert import read_weights, write_weights
from convert.names import DECODER, ENCODER, ENCODER_HEAD
from convert.weights import checked_weights
from torch_ref.checkpoint import save_checkpoint
from torch_ref.erfnet import Net
from torch_ref.trainer import seed_everything, stage_model, stage_seed

SCRATCH, PREVIOUS_ENCODER = "scratch", "previous_encoder"


def reference_start(run, position):
    """The torch Net the reference trainer builds for `run.stages[position - 1]` (1-based) when it starts
    from scratch or around a previous encoder, under that stage's seed; the encoder of a previous_encoder
    start is a stand-in (made before seeding, so the draws are the trainer's)."""
    stage = run.stages[position - 1]
    previous = Net(run.num_classes) if stage.init == PREVIOUS_ENCODER else None
    seed_everything(stage_seed(run, position))
    return stage_model(stage, previous, run.num_classes)


def write_reference_starts(config, run, folder):
    """Writes `<folder>/stage<N>_pytorch_start.pth` for each scratch or previous_encoder stage of `config`
    (numbered as the config numbers them); returns {stage number: path}. `run` is the reference run of the
    config with its own inits."""
    paths = {}
    for position, stage in enumerate(config.stages, start=1):
        if stage.init in (SCRATCH, PREVIOUS_ENCODER):
            paths[stage.number] = folder / f"{stage.name}_pytorch_start.pth"
            save_checkpoint(reference_start(run, position), paths[stage.number])
    return paths


def join_encoder_and_decoder(encoder_file, decoder_file, target):
    """Writes `target`: the encoder (with its head) of `encoder_file` under the decoder of `decoder_file`."""
    encoder = read_weights(encoder_file).only((ENCODER, ENCODER_HEAD))
    decoder = read_weights(decoder_file).only((DECODER,))
    joined = checked_weights({**encoder.arrays, **decoder.arrays}, target, [], encoder.upsample_align)
    write_weights(joined, target)
    return target
