"""torch.fx.passes.utils.matcher_utils: find the places in a graph that match a pattern graph."""
import copy
from collections import defaultdict
from dataclasses import dataclass, field

from ...graph_module import _get_attr
from ...node import Node

__all__ = ["SubgraphMatcher", "InternalMatch"]


@dataclass
class InternalMatch:
    """One match: the pattern's anchors, pattern node -> graph node, and the graph nodes standing for the
    pattern's inputs and outputs."""
    anchors: list
    nodes_map: dict = field(default_factory=dict)
    placeholder_nodes: list = field(default_factory=list)
    returning_nodes: list = field(default_factory=list)
    name_node_map: dict = field(default_factory=dict)

    def __copy__(self):
        return InternalMatch(anchors=self.anchors, nodes_map=self.nodes_map.copy(),
                             placeholder_nodes=self.placeholder_nodes.copy(),
                             returning_nodes=self.returning_nodes.copy())


def validate_partition(partition):
    """False when fusing these nodes would make a cycle (a path leaves the set and comes back)."""
    partition_set = set(partition)
    queue = [user for node in partition_set for user in node.users if user not in partition_set]
    visited = set()
    while queue:
        current = queue.pop()
        visited.add(current)
        if current in partition_set:
            return False
        queue.extend(u for u in current.users if u not in visited)
    return True


class SubgraphMatcher:
    """Matches a pattern graph against a graph, by data dependencies (not names), from the pattern's
    outputs back."""

    def __init__(self, pattern, match_output=False, match_placeholder=False, remove_overlapping_matches=True,
                 ignore_literals=False):
        self.pattern = pattern
        self.match_output = match_output
        self.match_placeholder = match_placeholder
        self.remove_overlapping_matches = remove_overlapping_matches
        self.ignore_literals = ignore_literals
        if len(pattern.nodes) == 0:
            raise ValueError("SubgraphMatcher cannot be initialized with an empty pattern")
        for node in pattern.nodes:
            if node.op != "output" and not node.is_impure() and len(node.users) == 0:
                raise AssertionError("SubgraphMatcher cannot be initialized with an pattern with dead code")
        self.pattern_placeholder_nodes = [n for n in pattern.nodes if n.op == "placeholder"]
        output_node = next(iter(reversed(pattern.nodes)))
        self.pattern_returning_nodes = output_node.all_input_nodes
        if match_output:
            self.pattern_anchors = [output_node]
        else:
            self.pattern_anchors = [n for n in output_node.all_input_nodes if len(n.users) == 1]

    def _match_attributes(self, pn, gn):
        from .... import Tensor
        pn_value = _get_attr(pn.graph.owning_module, pn.target)
        gn_value = _get_attr(gn.graph.owning_module, gn.target)
        if type(pn_value) is not type(gn_value):
            return False
        if isinstance(pn_value, Tensor):
            return isinstance(gn_value, Tensor)
        raise RuntimeError(f"Unsupported type {pn_value} when matching attributes")

    def _nodes_are_equal(self, pn, gn, node_name_match=""):
        if not self.match_placeholder and pn.op == "placeholder":
            return True
        if node_name_match and node_name_match in gn.name:
            return True
        if pn.op == gn.op:
            if pn.op in ("placeholder", "output"):
                return True
            if pn.op == "get_attr":
                return self._match_attributes(pn, gn)
            return pn.target == gn.target
        return False

    def _is_contained(self, nodes_map):
        lookup = {gn: pn for pn, gn in nodes_map.items() if pn.op != "placeholder"}
        for gn, pn in lookup.items():
            if pn in self.pattern_returning_nodes:
                continue
            for user in gn.users:
                if user not in lookup:   # (a value inside the match is used outside it)
                    return False
        return True

    def _remove_overlapping_matches(self, matches):
        kept = []
        nodes_matched = set()
        for match in matches:
            pairs = [(pn, gn) for pn, gn in match.nodes_map.items() if pn.op not in ("placeholder", "output")]
            if not any(gn in nodes_matched for _, gn in pairs):
                kept.append(match)
                nodes_matched.update(gn for _, gn in pairs)
        return kept

    def _match_literals(self, pn, gn, match):
        if isinstance(pn, Node) and not isinstance(gn, Node):
            if pn.op == "placeholder":
                if pn in match.nodes_map:
                    return match.nodes_map[pn] == gn
                match.nodes_map[pn] = gn
                return True
            return False
        if not isinstance(pn, Node) and isinstance(gn, Node):
            return False
        return type(gn) is type(pn) and gn == pn

    def _match_nodes(self, pn, gn, match, node_name_match=""):
        if pn in match.nodes_map:
            return match.nodes_map[pn] == gn
        if gn in match.nodes_map.values():
            return False
        if not self._nodes_are_equal(pn, gn, node_name_match):
            return False
        match.nodes_map[pn] = gn
        if pn.op == "placeholder":
            return True

        def match_args(args1, args2):
            if len(args1) != len(args2):
                return False
            for a1, a2 in zip(args1, args2):
                if isinstance(a1, Node) and isinstance(a2, Node):
                    matched = self._match_nodes(a1, a2, match)
                elif isinstance(a1, (list, tuple)) and isinstance(a2, (list, tuple)):
                    matched = match_args(a1, a2)
                else:
                    matched = self._match_literals(a1, a2, match) or self.ignore_literals
                if not matched:
                    return False
            return True

        found = False
        if len(pn.args) == len(gn.args) and list(pn.kwargs) == list(gn.kwargs):
            found = match_args(list(pn.args) + list(pn.kwargs.values()), list(gn.args) + list(gn.kwargs.values()))
        # (a failed match leaves its partial entries, as torch's does: the caller starts over from a copy)
        return found

    def match(self, graph, node_name_match=""):
        """The non-overlapping matches of the pattern in graph."""
        match_candidates = defaultdict(list)
        for pattern_anchor in self.pattern_anchors:
            for node in graph.nodes:
                if self._nodes_are_equal(pattern_anchor, node, node_name_match):
                    match_candidates[pattern_anchor].append(node)
        candidates = list(match_candidates.items())
        matches = []

        def backtracking(anchor_index, match):
            if anchor_index == len(candidates):
                match.placeholder_nodes = [match.nodes_map[pn] for pn in self.pattern_placeholder_nodes]
                match.returning_nodes = [match.nodes_map[pn] for pn in self.pattern_returning_nodes]
                matches.append(match)
                return
            pattern_anchor, candidate_nodes = candidates[anchor_index]
            saved_match = copy.copy(match)
            for node in candidate_nodes:
                if self._match_nodes(pattern_anchor, node, match, node_name_match):
                    backtracking(anchor_index + 1, match)
                match = copy.copy(saved_match)

        if candidates:
            backtracking(0, InternalMatch(anchors=self.pattern_anchors))
        matches = [m for m in matches if self._is_contained(m.nodes_map)]
        matches = [m for m in matches
                   if validate_partition([gn for pn, gn in m.nodes_map.items()
                                          if pn.op not in ("placeholder", "output")])]
        if self.remove_overlapping_matches:
            matches = self._remove_overlapping_matches(matches)
        return matches
