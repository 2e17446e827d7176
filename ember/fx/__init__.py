"""torch.fx: symbolic tracing of Modules and functions into Graphs, graph rewriting, and code generation.

symbolic_trace(m) runs m.forward on Proxies; each torch function, method, operator and submodule call it makes
becomes a Node of a Graph, from which a GraphModule's forward is generated as Python code.  ember has no
__torch_function__: while Proxies are alive, ember's public functions are wrapped to record such calls
(see _recording.py), and put back after.
"""
from . import _recording, node, graph, proxy  # noqa: F401
from ._symbolic_trace import PH, Tracer, symbolic_trace, wrap  # noqa: F401
from .graph import CodeGen, Graph  # noqa: F401
from .graph_module import GraphModule
from .interpreter import Interpreter, Transformer
from .node import Node, has_side_effect, map_arg
from .proxy import Proxy
from .subgraph_rewriter import replace_pattern

__all__ = ["symbolic_trace", "Tracer", "wrap", "Graph", "GraphModule", "Interpreter", "Transformer", "Node",
           "Proxy", "replace_pattern", "has_side_effect", "map_arg"]
