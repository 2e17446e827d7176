"""torch.onnx, importable: scripts import it at the top (pytorch/examples' word_language_model and
fast_neural_style) and export only when asked to.  ember cannot export ONNX graphs: export() says so."""
from ._backend import namespace

__all__ = ["export", "is_in_onnx_export", "OnnxExporterError"]


class OnnxExporterError(RuntimeError):
    """Raised when an ONNX export fails (here: always, ember has no exporter)."""


def is_in_onnx_export():
    """False: ember never traces a model for an ONNX export (models branch on this in forward)."""
    return False


def export(model, args=(), f=None, *rest, **kwargs):
    """Refuse: ember has no ONNX exporter (torch's builds a graph by tracing its own dispatcher)."""
    raise NotImplementedError(
        f"{namespace()}.onnx.export: ember cannot export models to ONNX; to get an .onnx file, run this script "
        f"with PyTorch, or save the weights with {namespace()}.save(model.state_dict(), path) and load them into "
        f"the same model under PyTorch to export it there")


_export = export   # (the private name older scripts call: fast_neural_style's --export_onnx)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"module '{namespace()}.onnx' has no attribute '{name}': ember does not implement "
                         f"torch.onnx.{name} yet")
