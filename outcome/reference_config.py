"""One training config for both frameworks: the PyTorch reference trainer's run (torch_ref.trainer) for a
TrainConfig, after refusing, one field at a time, what erfnet_pytorch's training loop cannot train. Any class
count and class weights it can: the caller hands it the data's layout and the weights MindSpore trains with."""
from torch_ref.trainer import ReferenceRun, ReferenceStage
from train.config import InitFile
from train.schema import fail

REFERENCE_RECIPE = "pytorch"
REFERENCE_DROPOUT_MODE = "channel"
REFERENCE_ALIGNMENTS = ("torch", "from_weights")
NO_AMP = "O0"


def check_reference_can_train(config):
    """Raises UserError naming the first config field the reference trainer cannot honour."""
    model = config.model
    if model.dropout_mode != REFERENCE_DROPOUT_MODE:
        fail("model.dropout_mode", f"{model.dropout_mode}: the PyTorch reference has erfnet_pytorch's channel "
                                   f"dropout (Dropout2d) only")
    if model.upsample_align not in REFERENCE_ALIGNMENTS:
        fail("model.upsample_align", f"{model.upsample_align}: the PyTorch reference computes erfnet_pytorch's "
                                     f"torch alignment only")
    if config.amp.level != NO_AMP:
        fail("amp.level", f"{config.amp.level}: the PyTorch reference trains in float32 only (O0)")
    for stage in config.stages:
        recipe = stage.augmentation.recipe
        if recipe != REFERENCE_RECIPE:
            fail(f"stages.{stage.number}.augmentation.recipe", f"{recipe}: the PyTorch reference has "
                                                               f"erfnet_pytorch's {REFERENCE_RECIPE} recipe only")
        if isinstance(stage.init, InitFile):
            fail(f"stages.{stage.number}.init", f"a weight file ({stage.init.file}): compare-training starts "
                                                f"both frameworks from scratch or from their own previous stage")


def reference_stage(config, stage):
    """The ReferenceStage of a config stage: its network, its slice of the poly curve, its start and its
    dropout rates by group."""
    dropout = {f"{group}_dropout": rate for group, rate in stage.dropout.items()}
    return ReferenceStage(stage.network, stage.first_epoch, stage.last_epoch, config.poly.epochs, stage.init,
                          **dropout)


def reference_run(config, class_weights, layout):
    """The ReferenceRun training `config` (already checked by check_reference_can_train, its class count resolved
    against the data) with its seed, on data of `layout` ("cityscapes" or "folders") with the loss's
    `class_weights` ({network: K + 1 floats})."""
    stages = tuple(reference_stage(config, stage) for stage in config.stages)
    return ReferenceRun(stages=stages, lr0=config.lr0, weight_decay=config.weight_decay, power=config.poly.power,
                        batch_size=config.batch_size, height=config.height, workers=config.workers, seed=config.seed,
                        num_classes=config.model.num_classes, class_weights=class_weights, layout=layout)
