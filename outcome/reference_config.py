"""One training config for both frameworks: the PyTorch reference trainer's run (torch_ref.trainer) for a
TrainConfig, after refusing, one field at a time, what erfnet_pytorch's training loop cannot train."""
from torch_ref.trainer import NUM_CLASSES, ReferenceRun, ReferenceStage
from train.config import InitFile
from train.schema import fail

REFERENCE_RECIPE = "pytorch"
REFERENCE_DROPOUT_MODE = "channel"
REFERENCE_ALIGNMENTS = ("torch", "from_weights")
NO_AMP = "O0"
REFERENCE_WEIGHTS = ("auto", "published")  # erfnet_pytorch's class weights, which the reference's loss holds


def check_reference_can_train(config):
    """Raises UserError naming the first config field the reference trainer cannot honour."""
    model = config.model
    if model.num_classes != NUM_CLASSES:
        fail("model.num_classes", f"{model.num_classes}: the PyTorch reference trains erfnet_pytorch's "
                                  f"{NUM_CLASSES} classes only")
    if model.dropout_mode != REFERENCE_DROPOUT_MODE:
        fail("model.dropout_mode", f"{model.dropout_mode}: the PyTorch reference has erfnet_pytorch's channel "
                                   f"dropout (Dropout2d) only")
    if model.upsample_align not in REFERENCE_ALIGNMENTS:
        fail("model.upsample_align", f"{model.upsample_align}: the PyTorch reference computes erfnet_pytorch's "
                                     f"torch alignment only")
    if config.loss.class_weights not in REFERENCE_WEIGHTS:
        fail("loss.class_weights", f"{config.loss.class_weights}: the PyTorch reference weighs its loss with "
                                   f"erfnet_pytorch's published class weights only")
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


def reference_run(config):
    """The ReferenceRun training `config` (already checked by check_reference_can_train) with its seed."""
    stages = tuple(reference_stage(config, stage) for stage in config.stages)
    return ReferenceRun(stages=stages, lr0=config.lr0, weight_decay=config.weight_decay, power=config.poly.power,
                        batch_size=config.batch_size, height=config.height, workers=config.workers, seed=config.seed)
