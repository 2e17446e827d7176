"""torch.fx.passes.shape_prop: run a GraphModule and note each node's tensor shape and dtype in its meta."""
import traceback
from typing import Any, NamedTuple

from ..interpreter import Interpreter
from ..node import map_aggregate

__all__ = ["TensorMetadata", "ShapeProp"]


class TensorMetadata(NamedTuple):
    """What ShapeProp records of a tensor (node.meta['tensor_meta'])."""
    shape: Any
    dtype: Any
    requires_grad: bool
    stride: tuple
    memory_format: Any
    is_quantized: bool
    qparams: dict


def _extract_tensor_metadata(result, include_contiguity=True):
    from ... import channels_last, channels_last_3d, contiguous_format
    memory_format = None
    if include_contiguity:
        for query_format in (contiguous_format, channels_last, channels_last_3d):
            try:
                if result.is_contiguous(memory_format=query_format):
                    memory_format = query_format
                    break
            except RuntimeError:   # (channels_last of a tensor of another rank)
                continue
    return TensorMetadata(result.shape, result.dtype, result.requires_grad, result.stride(), memory_format, False,
                          {})


class ShapeProp(Interpreter):
    """Runs the module on example inputs (propagate(*args)) and stores each node's TensorMetadata in
    node.meta['tensor_meta'] and the type of its value in node.meta['type']."""

    def __init__(self, gm, fake_mode=None):
        super().__init__(gm)
        self.fake_module = None
        self.fake_mode = None
        self.real_module = self.module

    def run_node(self, n):
        """Run n and record what it produced."""
        from ... import Tensor
        try:
            result = super().run_node(n)
        except Exception as e:
            traceback.print_exc()
            raise RuntimeError(f"ShapeProp error for: node={n.format_node()} with meta={n.meta}") from e
        found_tensor = False

        def extract_tensor_meta(obj):
            nonlocal found_tensor
            if isinstance(obj, Tensor):
                found_tensor = True
                return _extract_tensor_metadata(obj)
            return obj
        meta = map_aggregate(result, extract_tensor_meta)
        if found_tensor:
            n.meta["tensor_meta"] = meta
        n.meta["type"] = type(result)
        return result

    def propagate(self, *args):
        """Run the module on args, recording shapes; its output."""
        return super().run(*args)
