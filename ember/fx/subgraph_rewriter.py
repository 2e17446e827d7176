"""torch.fx.subgraph_rewriter: replace every match of a pattern in a GraphModule with a replacement."""
import copy
from dataclasses import dataclass
from typing import NamedTuple

from ._symbolic_trace import symbolic_trace
from .graph import Graph
from .graph_module import GraphModule
from .node import Node

__all__ = ["Match", "replace_pattern", "replace_pattern_with_filters", "ReplacedPatterns"]


class Match(NamedTuple):
    """A replaced match: its anchor (the pattern's output in the graph) and pattern node -> graph node."""
    anchor: Node
    nodes_map: dict


@dataclass
class ReplacedPatterns:
    """A replaced match and the nodes that replaced it."""
    anchor: Node
    nodes_map: dict
    replacements: list


def _replace_attributes(gm, replacement):
    from ..nn import Module
    gm.delete_all_unused_submodules()
    if isinstance(replacement, GraphModule):
        replacement.graph.lint()

    def try_get_attr(mod, target):
        module_path, _, attr_name = target.rpartition(".")
        try:
            mod = mod.get_submodule(module_path)
        except AttributeError:
            return None
        return getattr(mod, attr_name, None)

    for node in gm.graph.nodes:
        if node.op in ("call_module", "get_attr"):
            if try_get_attr(gm, node.target) is not None:
                continue
            replacement_attr = try_get_attr(replacement, node.target)
            if replacement_attr is None:
                raise RuntimeError(f'Attempted to create a "{node.op}" node during subgraph rewriting with target '
                                   f"{node.target}, but the referenced attribute does not exist in the replacement "
                                   "GraphModule")
            new_attr = copy.deepcopy(replacement_attr)
            if isinstance(replacement_attr, Module):
                gm.add_submodule(node.target, new_attr)
            else:
                setattr(gm, node.target, new_attr)
    gm.graph.lint()


def replace_pattern(gm, pattern, replacement):
    """Replace each non-overlapping match of pattern (a function or GraphModule) in gm's graph with replacement;
    the matches."""
    return [Match(anchor=m.anchor, nodes_map=m.nodes_map) for m in _replace_pattern(gm, pattern, replacement)]


def replace_pattern_with_filters(gm, pattern, replacement=None, match_filters=None, ignore_literals=False,
                                 replacement_callback=None, node_name_match=""):
    """replace_pattern, keeping only the matches all match_filters accept."""
    return _replace_pattern(gm, pattern, replacement, match_filters, ignore_literals, replacement_callback,
                            node_name_match)


def _graph_of(f):
    if isinstance(f, GraphModule):
        return f.graph
    if isinstance(f, Graph):
        return f
    return symbolic_trace(f).graph


def _replace_pattern(gm, pattern, replacement=None, match_filters=None, ignore_literals=False,
                     replacement_callback=None, node_name_match=""):
    from .passes.utils.matcher_utils import SubgraphMatcher
    match_filters = match_filters or []
    original_graph = gm.graph
    pattern_graph = _graph_of(pattern)
    matcher = SubgraphMatcher(pattern_graph, match_output=False, match_placeholder=False,
                              remove_overlapping_matches=True, ignore_literals=ignore_literals)
    matches = matcher.match(original_graph, node_name_match=node_name_match)
    matches = [m for m in matches if all(f(m, original_graph, pattern_graph) for f in match_filters)]
    if replacement is not None:
        common_replacement_graph = _graph_of(replacement)
    elif replacement_callback is None:
        raise AssertionError("Must provide either a replacement GraphModule or a replacement callback")
    else:
        common_replacement_graph = None

    match_changed_node = {}   # a returning node replaced by an earlier match -> its replacement
    result = []
    for match in matches:
        replacement_graph = (replacement_callback(match, original_graph, pattern_graph)
                             if replacement_callback is not None else common_replacement_graph)
        replacement_placeholders = [n for n in replacement_graph.nodes if n.op == "placeholder"]
        if len(match.placeholder_nodes) != len(replacement_placeholders):
            raise ValueError(f"replace_pattern: the pattern takes {len(match.placeholder_nodes)} inputs but the "
                             f"replacement {len(replacement_placeholders)}; give both the same parameters")
        val_map = {}
        for rn, gn in zip(replacement_placeholders, match.placeholder_nodes):
            if isinstance(gn, Node):
                val_map[rn] = match_changed_node.get(gn, gn)
                if gn != val_map[rn]:
                    gn_ind = match.placeholder_nodes.index(gn)
                    match.placeholder_nodes[gn_ind] = match_changed_node[gn]
                    map_key = list(match.nodes_map.keys())[list(match.nodes_map.values()).index(gn)]
                    match.nodes_map[map_key] = match_changed_node[gn]
            else:
                val_map[rn] = gn

        # the replacement goes before the first user of the match's outputs (else after the match)
        user_nodes = set()
        for n in match.returning_nodes:
            user_nodes.update(n.users)
        first_user_node = None
        if len(user_nodes) == 1:
            first_user_node = next(iter(user_nodes))
        elif user_nodes:
            first_user_node = next(n for n in original_graph.nodes if n in user_nodes)
        first_next_node = None
        if first_user_node is None:
            next_node = None
            for n in reversed(original_graph.nodes):
                if n in match.returning_nodes:
                    first_next_node = next_node
                    break
                next_node = n
        insert_point = first_user_node if first_user_node is not None else first_next_node
        if insert_point is None:
            raise AssertionError("The insert point can't be None")
        with original_graph.inserting_before(insert_point):
            copied_returning_nodes = original_graph.graph_copy(replacement_graph, val_map)
        if isinstance(copied_returning_nodes, Node):
            copied_returning_nodes = (copied_returning_nodes,)
        replacement_nodes = [v for v in val_map.values() if v not in match.placeholder_nodes]
        if len(match.returning_nodes) != len(copied_returning_nodes):
            raise ValueError(f"replace_pattern: the pattern returns {len(match.returning_nodes)} values but the "
                             f"replacement {len(copied_returning_nodes)}")
        for gn, copied_node in zip(match.returning_nodes, copied_returning_nodes):
            gn.replace_all_uses_with(copied_node)
            match_changed_node[gn] = copied_node
        for node in reversed(pattern_graph.nodes):
            if node.op != "placeholder" and node.op != "output":
                gm.graph.erase_node(match.nodes_map[node])
        result.append(ReplacedPatterns(anchor=match.anchors[0], nodes_map=match.nodes_map,
                                       replacements=replacement_nodes))
    gm.recompile()
    from ..nn import Module
    if isinstance(replacement, Module):
        _replace_attributes(gm, replacement)
    return result
