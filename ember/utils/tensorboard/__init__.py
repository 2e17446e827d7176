"""torch.utils.tensorboard: SummaryWriter writing TensorBoard event files with no tensorboard,
tensorflow or protobuf dependency (the protobuf messages and TFRecord framing are encoded by hand)."""
from .writer import FileWriter, SummaryWriter

__all__ = ["FileWriter", "SummaryWriter"]
